"""The planner's web page (static assets) and the folium reports."""
