//! fail2ban's control-socket wire protocol and fail2ban-client's output formats.
