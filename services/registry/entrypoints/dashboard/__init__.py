"""The operator's dashboard, served by the registry: a static page over the REST API, the
recent-event feed, and the HTML/PNG reports the services write."""
