"""Pure renderers: terminal text, Markdown and JSON, from outcomes and summaries."""
