"""Jobs: the create steps every front drives, the tracker that follows each job, the submit
line and poll scheduler, and the events it tells."""
