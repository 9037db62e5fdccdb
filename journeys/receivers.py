"""Signal receivers of the journeys app (connected in JourneysConfig.ready)."""
