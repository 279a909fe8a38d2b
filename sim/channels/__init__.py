"""Today's channels: posted-price on-demand sales and long-term contracts."""
