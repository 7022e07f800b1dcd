"""The payments service: it owns payments and charges orders through the card gateway."""
