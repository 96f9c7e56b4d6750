"""Post sources: front matter (frontmatter), Markdown rendering (render), HTML cleaning (sanitize).

Nothing is imported here so that page views never load the rendering stack.
"""
