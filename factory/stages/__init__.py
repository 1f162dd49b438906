"""The pipeline's stages as plain functions of a BuildConfig; rules/ wires them into doit tasks."""
