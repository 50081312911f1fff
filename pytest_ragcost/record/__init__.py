"""Recording a scenario: the recorder (requests, stages, samples), offline token
counting and provider usage in one shape."""
