package schema

// ErrMismatch lets the external tests (package schema_test, which use the
// shared test kit, itself an importer of schema) recognise Verify's
// mismatch error.
var ErrMismatch = errMismatch
