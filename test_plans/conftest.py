"""The production test plans run on the bench fixture of the cryorig plugin (rig.plugin)."""
