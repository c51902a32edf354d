"""What a :class:`gee_cscc.workflow.analyze.Results` does for a Python user: save, plot, compose.

:class:`ResultsApi` is the base class of ``Results``:

- ``results.to_files(out)`` writes the folder ``gee-cscc run --out OUT`` writes (tables,
  rasters, figures, report, run.json), staged and swapped in as a whole
  (:mod:`gee_cscc.report.out_folder`);
- ``results.plot.<figure>()`` draws one of the report's figures and returns the matplotlib
  :class:`~matplotlib.figure.Figure` (nothing is saved: ``fig.savefig(...)`` it);
- ``results.images`` are the result layers as Earth Engine images, for further composing
  on the engine that computed them (see :attr:`ResultsApi.images`).
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Any

from gee_cscc.method import RESULT_IMAGE_BANDS

__all__ = ["FIGURE_NAMES", "ResultsApi", "ResultsPlot", "run_info_of"]

#: The figures of ``results.plot`` (the names of :func:`gee_cscc.report.figures.make_figures`).
FIGURE_NAMES = (
    "study_area",
    "yearly",
    "trend_slope",
    "trend_class",
    "cscc",
    "cscc_year",
    "capacity_bars",
    "pcs",
    "pcs_difference",
    "maintenance",
    "maintenance_years",
    "maintenance_bars",
    "decay",
    "decay_curves",
    "csr_grade",
    "running_capacity",
    "csr_pixel",
)


def run_info_of(results: Any, *, inputs: dict | None = None, extent: Any = None) -> dict:
    """The run.json of ``results``, as :func:`gee_cscc.workflow.run.run` writes it.

    The library versions (``versions``) are added by :func:`gee_cscc.analyze`, which
    keeps the whole record in ``results.origin["run_info"]``.
    """
    from gee_cscc.version import __version__

    cfg = results.config
    info = {
        "package": "gee-cscc",
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "engine": cfg.engine,
        "project": cfg.project,
        "inputs": inputs or {},
        "config": cfg.to_dict(),
        "grid": results.summary.get("grid"),
        "counting": results.run_notes.get("counting", "local"),
        "extent": extent if extent is not None else cfg.extent,
        "summary": results.summary,
    }
    info.update(results.run_notes)
    return info


class ResultsApi:
    """Saving, plotting and the Earth Engine images of a run (mixed into ``Results``)."""

    def to_files(self, out: str | Path) -> Path:
        """Write every output into the folder ``out``, as ``gee-cscc run --out OUT`` does.

        ``out`` is checked first and replaced as a whole when everything is written (a
        failure leaves it as it was); it must be empty, missing or an earlier result.

        Returns
        -------
        pathlib.Path
            ``out`` as an absolute path.
        """
        from gee_cscc.report.out_folder import check_out, staged_out
        from gee_cscc.report.outputs import update_run_json, write_results

        origin = getattr(self, "origin", None) or {}
        path = check_out(out, inputs=origin.get("local_inputs", ()))
        run_info = origin.get("run_info") or run_info_of(self)
        t0 = time.perf_counter()
        timings = dict(getattr(self, "timings", {}))
        with staged_out(path) as staging:
            write_results(
                self,
                staging,
                run_info=run_info,
                regions_geojson=origin.get("regions_geojson"),
                synthetic=bool(origin.get("synthetic", False)),
            )
            timings["write outputs"] = round(time.perf_counter() - t0, 3)
            update_run_json(staging / "run.json", timings_s=timings)
        return path

    @property
    def plot(self) -> ResultsPlot:
        """The report's figures as matplotlib Figures: ``results.plot.cscc()`` etc."""
        origin = getattr(self, "origin", None) or {}
        return ResultsPlot(
            self,
            regions_geojson=origin.get("regions_geojson"),
            synthetic=bool(origin.get("synthetic", False)),
        )

    @property
    def images(self) -> dict[str, Any]:
        """The result layers as single-band ``ee.Image``\\ s, by name.

        ``vca``, ``cscc``, ``cscc_year``, ``trend_slope``, ``trend_stat``, ``trend_class``,
        ``trend_class_strict``, ``maintenance_years`` (from ``results.graph.result_image()``),
        ``region`` (the region ids), and ``pcs_<year>`` / ``maintenance_<year>`` (from
        ``results.graph.potential`` and ``results.graph.maintenance``, ImageCollections
        with a ``year`` property); with ``capacity_sensitivity`` also ``cscc_jk_se`` and
        ``pcs_jk_se`` (:func:`gee_cscc.method.record_length.capacity_jackknife`). ``results.graph`` (a
        :class:`gee_cscc.method.MethodGraph`) holds every intermediate expression.

        They are expressions on the engine that computed them: on Google Earth Engine they
        stay usable; with the local engine, pass ``engine=`` a started
        :class:`gee_cscc.LocalEngine` to :func:`gee_cscc.analyze` to keep it running.
        """
        import ee

        graph = self.graph  # type: ignore[attr-defined]
        result = graph.result_image()
        out = {name: result.select([name]) for name in RESULT_IMAGE_BANDS}
        regions = getattr(self, "regions", None)
        if regions is not None:
            out["region"] = ee.Image(regions.image).rename("region")
        for y in self.config.pcs_years or ():  # type: ignore[attr-defined]
            if y in self.config.years:  # type: ignore[attr-defined]
                out[f"pcs_{y}"] = ee.Image(graph.potential.filter(ee.Filter.eq("year", y)).first())
        for y in graph.evaluation_years:
            out[f"maintenance_{y}"] = ee.Image(
                graph.maintenance.filter(ee.Filter.eq("year", y)).first()
            )
        if getattr(self.config, "capacity_sensitivity", False):  # type: ignore[attr-defined]
            from gee_cscc.method.record_length import RECORD_LENGTH_BANDS, capacity_jackknife

            maps = capacity_jackknife(graph, graph.npp)
            out.update({name: maps.select([name]) for name in RECORD_LENGTH_BANDS})
        if getattr(graph, "csr_pixel", None) is not None:  # docs/method.md §7
            from gee_cscc.method.csr_pixel import CSR_PIXEL_BANDS

            out.update({name: graph.csr_pixel.select([name]) for name in CSR_PIXEL_BANDS})
        return out


class ResultsPlot:
    """The figures of one run; each method returns a :class:`matplotlib.figure.Figure`.

    Methods: ``yearly``, ``trend_slope``, ``trend_class``, ``cscc`` (alias ``cscc_map``),
    ``cscc_year``, ``pcs``, ``maintenance``, ``maintenance_years``, ``decay(region=None)``,
    ``decay_curves``, ``csr_grade`` (needs the regions as a GeoJSON table) and
    ``running_capacity`` (a run with ``capacity_sensitivity=True``). Nothing is
    saved; ``fig.savefig("cscc.pdf")`` writes one in any format matplotlib knows;
    ``results.plot.save(folder, formats="png,pdf", dpi=300)`` writes them all. Also
    ``study_area``, ``capacity_bars`` and ``maintenance_bars`` (Tables 1 and 2 per region) and
    ``pcs_difference``. ``results.plot.paper()`` draws them without titles (the default when
    ``Config.figure_style`` is ``"paper"``).
    """

    def __init__(
        self,
        results: Any,
        *,
        regions_geojson: dict | None,
        synthetic: bool,
        style: str | None = None,
    ) -> None:
        self._results = results
        self._geojson = regions_geojson
        self._synthetic = synthetic
        self._style = style or getattr(results.config, "figure_style", "report")

    def __dir__(self) -> list[str]:
        return sorted({*FIGURE_NAMES, "cscc_map", "paper", "save"})

    def paper(self) -> ResultsPlot:
        """The same figures in the paper style: no titles drawn in (the captions carry them)."""
        return ResultsPlot(
            self._results, regions_geojson=self._geojson, synthetic=self._synthetic, style="paper"
        )

    def save(
        self,
        folder: str | Path,
        *,
        formats: Any = None,
        dpi: int | None = None,
        names: Any = None,
    ) -> dict[str, Path]:
        """Draw the figures into ``folder`` as ``<name>.<format>`` files, two at a time.

        Parameters
        ----------
        folder : str or path-like
            Made if missing; files of the same names are replaced.
        formats : str or sequence of str, optional
            Any formats matplotlib writes, e.g. ``"pdf"``, ``"png,svg"`` or ``("png", "eps")``;
            default the config's ``figure_format``.
        dpi : int, optional
            Dots per inch of PNG files and of the maps' images in SVG/PDF; default the
            config's ``dpi`` (150).
        names : iterable of str, optional
            Only these figures (the names of :func:`gee_cscc.report.make_figures`; the
            whole-area decay figure is ``decay_ALL``); default all that can be drawn.

        Returns
        -------
        dict of str to pathlib.Path
            Figure name → its file in the first format.
        """
        from gee_cscc.report.figures import make_figures

        if isinstance(formats, str):
            formats = [f.strip().lower() for f in formats.split(",") if f.strip()]
        return make_figures(
            self._results,
            Path(folder),
            regions_geojson=self._geojson,
            synthetic=self._synthetic,
            dpi=dpi,
            names=names,
            formats=formats,
            style=self._style,
        )

    def study_area(self) -> Any:
        """Map of the regions and the vegetation-covered area."""
        return self._draw("study_area", "vca")

    def capacity_bars(self) -> Any:
        """Per-region bars of Table 1: CSCC, NPP of the last year, the potential, its share."""
        return self._draw("capacity_bars")

    def pcs_difference(self) -> Any:
        """Map of PCS(last year) − PCS(t′) (or the last minus the first PCS year)."""
        return self._draw("pcs_difference", "pcs")

    def maintenance_bars(self) -> Any:
        """Per-region bars of Table 2: cells with each trend at t′ and those that kept it."""
        return self._draw("maintenance_bars")

    def _context(self, results: Any) -> Any:
        from gee_cscc.report.figures import figure_context

        return figure_context(
            results, regions_geojson=self._geojson, synthetic=self._synthetic, style=self._style
        )

    def _draw(self, name: str, needs: str | None = None, results: Any = None) -> Any:
        from gee_cscc.errors import InputError
        from gee_cscc.report import curve_figures, map_figures, paper_figures

        results = self._results if results is None else results
        if needs is not None and needs not in results.rasters:
            raise InputError(f"No '{needs}' layer in results.rasters: the {name} figure needs it.")
        maker = next(
            getattr(m, f"fig_{name}")
            for m in (map_figures, curve_figures, paper_figures)
            if hasattr(m, f"fig_{name}")
        )
        fig = maker(self._context(results))
        if fig is None:
            what = "a regions GeoJSON" if name == "csr_grade" else "its table"
            raise InputError(f"The {name} figure cannot be drawn for these results (needs {what}).")
        return fig

    def running_capacity(self) -> Any:
        """Running capacity per region and total CSCC with each year left out (a run with
        ``capacity_sensitivity=True``)."""
        from gee_cscc.errors import InputError
        from gee_cscc.report.record_length import fig_running_capacity

        fig = fig_running_capacity(self._context(self._results))
        if fig is None:
            raise InputError(
                "The running_capacity figure needs a run with capacity_sensitivity=True."
            )
        return fig

    def csr_pixel(self) -> Any:
        """Maps of the CSR grade and RS per cell (a run with ``csr_pixel`` set)."""
        from gee_cscc.errors import InputError
        from gee_cscc.report.csr_pixel import fig_csr_pixel

        fig = fig_csr_pixel(self._context(self._results))
        if fig is None:
            raise InputError("The csr_pixel figure needs a run with csr_pixel set (e.g. '50km').")
        return fig

    def yearly(self) -> Any:
        """Mean NPP with its trend, total NPP and saturation per year."""
        return self._draw("yearly")

    def trend_slope(self) -> Any:
        """Map of the NPP trend slope (g C m⁻² yr⁻²)."""
        return self._draw("trend_slope", "trend_slope")

    def trend_class(self) -> Any:
        """Map of the trend classes SI/II/0/ID/SD with their area shares."""
        return self._draw("trend_class", "trend_class")

    def cscc(self) -> Any:
        """Map of the CSCC (g C m⁻² yr⁻¹)."""
        return self._draw("cscc", "cscc")

    cscc_map = cscc

    def cscc_year(self) -> Any:
        """Map of the year each cell reached its CSCC."""
        return self._draw("cscc_year", "cscc_year")

    def pcs(self) -> Any:
        """Maps of the increase potential (one panel per PCS year)."""
        return self._draw("pcs", "pcs")

    def maintenance(self) -> Any:
        """Maps of the maintenance surfaces P (first, middle, last evaluation year)."""
        return self._draw("maintenance", "maintenance")

    def maintenance_years(self) -> Any:
        """Map of the signed number of years the initial trend held."""
        return self._draw("maintenance_years", "maintenance_years")

    def decay(self, region: str | None = None) -> Any:
        """Observed q⁺/q⁻ and the fitted decay curves of one region (default: the whole area)."""
        from gee_cscc.errors import InputError

        results = self._results
        if region is None or str(region) == str(results.config.all_label):
            return self._draw("decay_all")
        known = [str(r) for r in results.resilience["region"]]
        if str(region) not in known:
            raise InputError(f"No region {region!r} in the results; regions: {', '.join(known)}.")
        label = str(results.config.all_label)

        def only(frame: Any) -> Any:
            sub = frame[frame["region"].astype(str) == str(region)].copy()
            sub["region"] = label
            return sub

        import dataclasses

        view = dataclasses.replace(
            results,
            maintenance_counts=only(results.maintenance_counts),
            resilience=only(results.resilience),
        )
        fig = self._draw("decay_all", results=view)
        if self._style != "paper":
            title = f"Decay of the maintained trends, {region}"
            fig.suptitle(title, fontsize=11.5, fontweight="bold")
        return fig

    def decay_curves(self) -> Any:
        """Observed and fitted decay curves of the whole area and every region."""
        return self._draw("decay_curves")

    def csr_grade(self) -> Any:
        """Map of the regions' CSR grade (needs the regions as a GeoJSON table)."""
        return self._draw("csr_grade")
