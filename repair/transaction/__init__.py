"""The transaction core: the journal and locks every changing command takes, and the pipeline that
runs a plan under them (lock -> back up -> journal -> execute -> verify -> roll back on failure)."""
