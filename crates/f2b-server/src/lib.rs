//! The f2b daemon: failure counter, ban manager, actions, database, control socket.
