"""The call path: the asyncio ARI client (ari), call outcomes from ARI events (outcome), the ExternalMedia
transports (media: chan_websocket, AudioSocket) and the CallSession that joins media, VAD, ASR, dialog and
persistence for one live call (session). The campaign engine arrives with the campaigns issue (#4).
"""
