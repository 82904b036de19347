"""Reading transcripts and de-identifying them."""
