"""Many streams at once (`sse-doctor load`): a sans-I/O core (http1, streams, recorder,
histogram), an asyncio.Protocol driver per worker process (driver) and their parent (fleet)."""
