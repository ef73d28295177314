"""The Edge side of nextoffer: datastreams, decision scopes and experience events as the
Adobe Web SDK and the Edge Network Server API send them."""
