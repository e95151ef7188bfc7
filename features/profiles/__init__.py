"""Point-in-time household profiles: the feature catalogue, the profile builder, the official-rule flags."""
