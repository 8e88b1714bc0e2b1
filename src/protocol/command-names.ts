// Names that travel from the configuration to commands on the managed host.
// Both sides check them with these same expressions: the local side when it
// loads packages.yaml and services.yaml, the helper again before it passes
// them as arguments (never through a shell).

/**
 * A Debian package name (Debian Policy 5.6.7: lower case letters, digits,
 * "+", "-" and ".", at least two characters, starting with a letter or
 * digit), optionally followed by ":<architecture>" ("libc6:i386"). Never a
 * leading "-", never an apt pattern or version like "foo=1.0" or "~i".
 */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9][a-z0-9-]*)?$/;

/**
 * A systemd unit name (systemd.unit(5): ASCII letters, digits, ":", "-",
 * "_", ".", "\" and "@", at most 255 characters); without a suffix systemctl
 * reads it as "<name>.service". Never starting with "-".
 */
export const UNIT_NAME = /^[A-Za-z0-9:_.\\@][A-Za-z0-9:_.\\@-]{0,254}$/;
