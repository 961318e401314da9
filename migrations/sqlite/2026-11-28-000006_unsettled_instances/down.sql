DROP INDEX instances_unsettled;
