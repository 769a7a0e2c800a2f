//! `event2/util.h`: sockets and portable helpers.
