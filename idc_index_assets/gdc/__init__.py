"""gdc_idc_mapping: the GDC cases API client (and its offline snapshot), the mapping of IDC studies
to GDC cases, and its asset. Imports `indices`, `engines` and `sources`."""
