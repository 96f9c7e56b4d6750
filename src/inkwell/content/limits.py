"""How long a post's fields may be: the same rules for the editor and for imported files, so a
post that was imported can always be saved again in the editor (the columns hold these sizes)."""

MAX_TITLE_LENGTH = 300
MAX_SLUG_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 1000
MAX_TAGS = 20
MAX_TAG_LENGTH = 100
# The settings between the --- (or +++) lines: checked before they are parsed, so a hostile
# file cannot make the YAML or TOML parser work for seconds (200,000 tags: 2.7 s).
MAX_FRONT_MATTER = 64 * 1024
