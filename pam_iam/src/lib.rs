//! PAM module: see iam::login for the rules.
