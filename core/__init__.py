"""What the relay's services share: configuration, models, tenant logic."""
