"""Jobs: orders, the tracker that follows each job, and the events it tells."""
