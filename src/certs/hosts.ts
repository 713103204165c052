// The names a generated certificate is valid for unless told: a module of its own, so the CLI can
// show them in --help without loading the certificate code (node-forge) on every start.

export const CERTIFICATE_HOSTS_DEFAULT: readonly string[] = ['127.0.0.1', 'localhost'];
