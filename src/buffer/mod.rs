//! evbuffer: a queue of chunks with callbacks, search and fd I/O.
