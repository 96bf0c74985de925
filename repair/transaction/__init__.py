"""The transaction core: the journal and locks every changing command takes (``journal``), the
pipeline that runs a plan under them (``pipeline``: lock -> back up -> journal -> execute ->
verify -> roll back on failure), each plan step on the venv (``steps``), and the rollback and
recovery of an interrupted run (``recovery``)."""
