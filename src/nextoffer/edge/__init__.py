"""The Edge side of nextoffer: datastreams and the Edge service (interact, collect) the Adobe
Web SDK and the Edge Network Server API call; their wire formats are in `wire/`."""
