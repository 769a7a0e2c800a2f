//! `event2/bufferevent.h` and `event2/bufferevent_struct.h`.
