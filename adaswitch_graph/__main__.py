from adaswitch_graph.cli import app

app(prog_name="adaswitch")
