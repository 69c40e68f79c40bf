//! fail2ban filter engine: Python-re translation, tags, date detection, failregex evaluation.
