"""Local stand-in for the Engagifii identity server and Events API (placeholder; see issue 2)."""
