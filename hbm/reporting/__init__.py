"""Reports of a fit (HTML and Markdown, from one list of blocks) and its result folder."""
