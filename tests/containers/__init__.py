"""The container path on a real Docker engine (make container-test): our own dockerd, local
stand-ins for the Docker Hub images, the project's image built from its Dockerfile and run alone
and with compose.yaml, exactly as docs/compose.md says. Not collected by pytest."""
