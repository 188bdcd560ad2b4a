"""What Baton does, whoever asks: the switch, vault and handover services, releases, drills,
customer notices, owner accounts and the stage actions. Used by the HTTP and CLI faces."""
