"""todos-service: owns tasks; asks before-complete hooks; publishes its events through an outbox."""
