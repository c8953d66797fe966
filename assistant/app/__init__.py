"""The web page: plain handlers, safe rendering, the page map, and the Gradio layout.

* ``handlers``  -- what the page and the API do, as plain functions of an
  ``Assistant`` (testable without a browser); they return JSON-ready dicts.
* ``render``    -- turns those dicts into Markdown and HTML, escaping every
  piece of report or reader text.
* ``pagemap``   -- the "where in the report" picture, an inline SVG.
* ``settings``  -- host, port, login and queue settings from the environment
  and the command line, with the refusal to serve a public host unguarded.
* ``engine``    -- loads (and if needed builds) the index in the background,
  reporting progress, and hands the one shared Assistant to every request.
* ``ui``        -- the ``gr.Blocks`` page; the only module that imports gradio.

Importing this package is cheap: nothing here imports gradio or torch.
"""
