//! evconnlistener: accepting connections from the loop.
