//! fail2ban configuration reader: ConfigParser rules, includes, interpolation, jail/filter/action resolution.
