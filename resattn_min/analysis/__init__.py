"""The book's analysis: the runs on record read back (``runs_on_record``), compared with statistics
(``stats``, ``comparisons``), one module per results chapter (``*_record``), and the figures of trained
networks (``mask_figure``, ``mask_statistics``, ``responses``, ``viz``)."""
