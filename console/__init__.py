"""The web console for agents, quality staff and supervisors.

Not built yet: this arrives with the console issue (#5).
"""
