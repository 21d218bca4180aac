// The project's own scripts: Alpine components (Alpine.data) and page behaviour.
