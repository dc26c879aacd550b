"""The call path: the asyncio ARI client, media transports, CallSession and the campaign engine.

Not built yet: this arrives with the real-calls issue (#3) and the campaigns issue (#4).
"""
