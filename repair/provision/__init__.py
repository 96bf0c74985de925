"""A web UI installed from nothing (``repair install``): the plan and its record (``plan``), the
clone and the extensions (``git``), and the other steps, each recorded when it finishes (``steps``).
"""
