"""The file service's pieces: the sandbox, checksums, uploads, and the client."""
