"""Where the features live: the catalog, the offline history, the Feast store and repository,
the online writers (SQLite, Redis) and the serving snapshot published to Redis."""
