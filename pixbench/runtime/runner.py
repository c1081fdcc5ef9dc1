"""Feeding images to a model: :class:`Runner` turns ``HxWx3 uint8`` images into model tensors and back.

It follows an :class:`pixbench.runtime.spec.InputSpec`, converts with the compiled
one-pass kernels of :mod:`pixbench.runtime.kernels`, and runs overlapping blended
tiles for fixed-size restorers, centre-of-block sliding for BlockCNN, and grids of
crops for fixed-size classifiers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from pixbench.errors import ModelError
from pixbench.runtime.colour import bicubic_resize, rgb_to_ycbcr, ycbcr_to_rgb
from pixbench.runtime.kernels import accumulate, first_cover, pack, pack_tiles, to_image
from pixbench.runtime.model import Model
from pixbench.runtime.spec import BLOCK, CONTEXT, InputSpec
from pixbench.runtime.tiling import crops, pad_to, positions, ramp

#: Largest batch of tiles, blocks or crops sent to a model with a dynamic batch axis, and the
#: most pixels per batch: bigger batches of big tiles run slower (activations leave the cache).
MAX_BATCH, MAX_BATCH_PIXELS = 256, 256 * 256
#: Most input values (tiles times channels times pixels) converted and blended in one group.
MAX_GROUP_VALUES = 1 << 24

#: Each value range as ``(mul, add)`` from 8-bit pixel values: ``model value = pixel * mul + add``.
TO_MODEL = {"01": (1 / 255.0, 0.0), "11": (2 / 255.0, -1.0), "255": (1.0, 0.0)}


def block_padded(x: np.ndarray) -> np.ndarray:
    """``HxWxC`` edge-padded by one block on every side and up to whole blocks (what BlockCNN slides over).

    The ``24x24`` window at ``(8 by, 8 bx)`` is the context of block ``(by, bx)``; at the image
    border the missing neighbours are the edge pixels repeated.
    """
    h, w = x.shape[:2]
    return np.pad(x, ((BLOCK, BLOCK + -h % BLOCK), (BLOCK, BLOCK + -w % BLOCK), (0, 0)), mode="edge")


class Runner:
    """Feeds images to a model according to its :class:`InputSpec`."""

    def __init__(self, model: Model, spec: InputSpec, *, overlap: int = 32) -> None:
        self.model, self.spec, self.overlap = model, spec, overlap
        self._scratch: dict[tuple[str, tuple[int, ...], str], np.ndarray] = {}

    def _buffer(self, tag: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A scratch array kept between calls (contents undefined), one per ``(tag, shape, dtype)``.

        Fresh arrays of a full frame cost page faults on first touch (about as much as
        the conversion itself at 1080p); samples of one dataset mostly share a size.
        """
        key = (tag, tuple(shape), np.dtype(dtype).str)
        buf = self._scratch.get(key)
        if buf is None:
            if len(self._scratch) >= 8:  # datasets of many sizes: keep only recent ones
                self._scratch.clear()
            buf = self._scratch[key] = np.empty(shape, dtype)
        return buf

    # -- one batch ----------------------------------------------------------------------------
    @property
    def threads(self) -> int:
        """Threads for the harness's own conversions: as many as the model's session uses."""
        return self.model.threads or 1

    def run_raw(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Run one batch and return output 0 as onnxruntime gives it.

        Args:
            x: ``NHWC`` values in [0, 255], uint8 or float.
            mask: ``NHW1``, 1 = hole (inpaint only).
        """
        return self.run_outputs(x, mask)[0]

    def run_outputs(self, x: np.ndarray, mask: np.ndarray | None = None) -> list[np.ndarray]:
        """Run one batch and return every output, in the model's output order (as :meth:`run_raw` feeds it)."""
        spec = self.spec
        mul, add = TO_MODEL[spec.range]
        n, h, w, c = x.shape
        direct = spec.dtype == np.uint8 and x.dtype == np.uint8 and spec.range == "255"  # no arithmetic at all
        t = self._input_buffer(n, c, h, w, mask, np.uint8 if direct else np.float32)
        nchw = spec.layout == "nchw"
        if x.dtype == np.uint8 and (nchw or not direct):  # (a direct NCHW copy still transposes)
            pack(x, t, nchw=nchw, mul=mul, add=add, threads=self.threads)
        else:
            dst = t[:, :c] if nchw else t[..., :c]
            src = x.transpose(0, 3, 1, 2) if nchw else x
            if direct or mul == 1.0:
                np.copyto(dst, src, casting="unsafe")
            else:
                np.multiply(src, np.float32(mul), out=dst, casting="unsafe")
            if not direct and add != 0.0:
                dst += np.float32(add)
        return self._run_buffer(t, c, mask)

    def _input_buffer(self, n: int, c: int, h: int, w: int, mask: np.ndarray | None, dtype: Any) -> np.ndarray:
        """A reused input buffer in the model's layout, with room for a mask channel where the model takes one."""
        cm = c + 1 if mask is not None and self.spec.mask_input == "channel" else c
        return self._buffer("in", (n, cm, h, w) if self.spec.layout == "nchw" else (n, h, w, cm), dtype)

    def _run_buffer(self, t: np.ndarray, c: int, mask: np.ndarray | None) -> list[np.ndarray]:
        """Run the model on ``t`` (image channels ``:c`` filled in), adding the mask where the model takes it."""
        spec = self.spec
        hole = 255.0 if spec.dtype == np.uint8 else 1.0
        if mask is not None and spec.mask_input == "channel":
            view = t.transpose(0, 2, 3, 1) if spec.layout == "nchw" else t
            np.copyto(view[..., c:], mask * hole, casting="unsafe")
        if spec.dtype == np.uint8 and t.dtype != np.uint8:
            np.clip(np.rint(t, out=t), 0, 255, out=t)
        feeds = {spec.image_input: t.astype(spec.dtype, copy=False)}
        if mask is not None and spec.mask_input == "separate":
            m = mask.transpose(0, 3, 1, 2) if spec.layout == "nchw" else mask
            feeds[spec.mask_name] = np.ascontiguousarray(m * hole, dtype=spec.dtype)
        outs = [np.asarray(out) for out in self.model.run(feeds)]
        # An output may share the fed buffer (an Identity graph), which the next call overwrites.
        return [out.copy() if np.may_share_memory(out, t) else out for out in outs]

    def output_hw_c(self, out: np.ndarray) -> tuple[int, int, int]:
        """Spatial size and channel count of a 4-D image output in the model's layout."""
        if out.ndim != 4:
            raise ModelError(f"{self.model.path.name}: expected a 4-D image output, got shape {out.shape}")
        return (out.shape[2], out.shape[3], out.shape[1]) if self.spec.layout == "nchw" else out.shape[1:4]

    def predict(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Run a batch and return ``NHWC`` float32 pixels in [0, 255], not clipped (may be a strided view).

        Args:
            x: ``NHWC`` values in [0, 255].
            mask: ``NHW1``, 1 = hole.

        Raises:
            ModelError: The output has the wrong shape (counted per sample by callers). NaN and
                Inf are caught later, when the image is rounded to uint8.
        """
        return self._to_pixels(self._checked(self.run_raw(x, mask), *x.shape[:3]))

    def _to_pixels(self, out: np.ndarray) -> np.ndarray:
        """A checked float32 output, in place, to [0, 255] pixels (not clipped), as an ``NHWC`` view."""
        mul, add = TO_MODEL[self.spec.range]
        if (mul, add) != (1.0, 0.0):
            if add:
                out -= np.float32(add)
            out *= np.float32(1.0 / mul)
        return out.transpose(0, 2, 3, 1) if self.spec.layout == "nchw" else out

    def _checked(self, out: np.ndarray, n: int, xh: int, xw: int, *, cast: bool = True) -> np.ndarray:
        """``out`` after checking it fits ``n`` inputs of ``xh x xw``: as writeable float32, or
        as it is with ``cast=False`` (a ``uint8`` output then skips a float round trip).

        Raises:
            ModelError: The output has the wrong shape (counted per sample by callers).
        """
        if cast and (out.dtype != np.float32 or not out.flags.writeable):
            out = out.astype(np.float32)
        h, w, _ = self.output_hw_c(out)
        s = self.spec.scale
        want = (BLOCK, BLOCK) if self.spec.blockwise else (xh * s, xw * s)
        if out.shape[0] != n or (h, w) != want:
            raise ModelError(f"output shape {out.shape} does not fit input {(xh, xw)} (scale {s})")
        return out

    def predict_batched(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict` over any number of items, in chunks the model's batch axis accepts."""
        return self._chunked(self.predict, x, mask)

    def _chunked(self, fn: Any, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return np.concatenate([np.asarray(fn(xb, mb))[:n] for _, n, xb, mb in self._chunks(x, mask)], axis=0)

    def _chunks(
        self, x: np.ndarray, mask: np.ndarray | None, pixels: int | None = None
    ) -> Iterator[tuple[int, int, np.ndarray, Any]]:
        """``(start, n, batch, mask batch)`` in sizes the model's batch axis accepts; a fixed batch
        axis gets its last chunk padded by repetition (only the first ``n`` results count).
        ``pixels`` is the item's height times width when ``x`` is not ``NHWC``."""
        pixels = pixels or x.shape[1] * x.shape[2]
        step = self.spec.batch or max(1, min(MAX_BATCH, MAX_BATCH_PIXELS // pixels))
        for i in range(0, len(x), step):
            xb, mb = x[i : i + step], None if mask is None else mask[i : i + step]
            n = len(xb)
            if self.spec.batch and n < step:
                xb = np.concatenate([xb, np.repeat(xb[-1:], step - n, 0)])
                mb = None if mb is None else np.concatenate([mb, np.repeat(mb[-1:], step - n, 0)])
            yield i, n, xb, mb

    # -- whole images -------------------------------------------------------------------------
    def restore(
        self, image: np.ndarray, *, mask: np.ndarray | None = None, lowres: np.ndarray | None = None
    ) -> np.ndarray:
        """Restore one ``HxWx3 uint8`` image (``lowres`` is fed instead where the model wants it).

        Fixed-size models see overlapping tiles blended with linear ramps; BlockCNN
        models slide over the 8x8 grid; dynamic models see the whole image. Y-only
        models get the luma and the result takes the input's chroma.
        """
        src = lowres if self.spec.input == "lowres" else image
        if src is None:
            raise ModelError("the model wants the low-resolution grid but the sample has none")
        m = None if mask is None else mask[..., None].astype(np.float32)
        if self.spec.blockwise:
            return self._with_luma(src, lambda x: self._slide_blocks(x, m))
        apply = self._tiled if self.spec.tile else self._whole
        if self.spec.channels == "y":
            return self._with_luma(src, lambda x: apply(x, m, as_uint8=False))
        return apply(src, m, as_uint8=True)

    def restore_triplets(self, contexts: np.ndarray) -> np.ndarray:
        """BlockCNN: ``(N, 24, 24, 3)`` uint8 contexts -> ``(N, 8, 8, 3)`` uint8 centre blocks."""
        x = np.asarray(contexts)
        if self.spec.channels == "y":
            ycc = rgb_to_ycbcr(x)
            luma = self.predict_batched(ycc[..., :1])
            chroma = ycc[:, BLOCK : 2 * BLOCK, BLOCK : 2 * BLOCK, 1:]
            return self._image_u8(ycbcr_to_rgb(np.concatenate([luma, chroma], -1)))
        return self._image_u8(self.predict_batched(x))

    def detect_raw(self, image: np.ndarray) -> np.ndarray:
        """Raw detector outputs for one image, one row per crop (``(n_crops, k)``).

        Dynamic models see the whole image (one row). Fixed-size models see a grid
        of non-overlapping crops of their size covering the image (the last row and
        column aligned to the far edge; images smaller than the model are edge-padded).
        """
        x = rgb_to_ycbcr(image)[..., :1] if self.spec.channels == "y" else image
        if self.spec.tile is None:
            return self.run_raw(x[None]).reshape(1, -1)
        x = pad_to(x, self.spec.tile)
        tiles = crops(x, self.spec.tile, 0)[0]
        return self._chunked(lambda xb, _: self.run_raw(xb).reshape(len(xb), -1), tiles, None)

    def _with_luma(self, x: np.ndarray, apply: Any) -> np.ndarray:
        """Apply to RGB, or to the luma of a Y-only model and put the input's chroma back."""
        if self.spec.channels != "y":
            return self._image_u8(apply(x))
        ycc = rgb_to_ycbcr(x)
        luma = apply(ycc[..., :1])
        chroma = ycc[..., 1:] if luma.shape[:2] == ycc.shape[:2] else bicubic_resize(ycc[..., 1:], luma.shape[:2])
        return self._image_u8(ycbcr_to_rgb(np.concatenate([luma, chroma], axis=-1)))

    def _image_u8(self, x: np.ndarray) -> np.ndarray:
        """Float pixels (``HxWxC``, or ``NxHxWxC``) to a new ``uint8`` array: clipped, rounded half to even.

        Raises:
            ModelError: ``x`` holds NaN or Inf (the model's output did; they survive blending).
        """
        if x.ndim == 4:
            n, h, w, c = x.shape
            return self._image_u8(x.reshape(n * h, w, c)).reshape(n, h, w, c)
        return to_image(np.asarray(x, np.float32), planar=False, sub=0.0, threads=self.threads)

    def _whole(self, x: np.ndarray, mask: np.ndarray | None, *, as_uint8: bool) -> np.ndarray:
        """The model on the whole ``HxWxC`` image: a new ``uint8`` image, or ``float32`` pixels (a view)."""
        out = self.run_raw(x[None], None if mask is None else mask[None])
        out = self._checked(out, 1, *x.shape[:2], cast=not as_uint8 or out.dtype not in (np.float32, np.uint8))
        if not as_uint8:
            return self._to_pixels(out)[0]
        mul, add = TO_MODEL[self.spec.range]
        return to_image(out[0], planar=self.spec.layout == "nchw", sub=add, mul=1.0 / mul, threads=self.threads)

    def _tiled(self, x: np.ndarray, mask: np.ndarray | None, *, as_uint8: bool) -> np.ndarray:
        """Overlapping tiles, blended with linear ramps: a new ``uint8`` image, or ``float32`` pixels (a view).

        Tiles are cut from the image straight into the model's input buffer, and their
        outputs are weighted and summed in the model's own layout, so no tile is transposed.
        """
        (th, tw), s = self.spec.tile, self.spec.scale
        nchw = self.spec.layout == "nchw"
        h, w, c = x.shape
        xp = pad_to(x, (th, tw))
        ov = (min(self.overlap, th // 4), min(self.overlap, tw // 4))
        origins = np.array(
            [(y, x0) for y in positions(xp.shape[0], th, ov[0]) for x0 in positions(xp.shape[1], tw, ov[1])], np.int64
        )
        mtiles = None if mask is None else crops(pad_to(mask, (th, tw)), (th, tw), ov)[0]
        wy, wx = ramp(th * s, ov[0] * s), ramp(tw * s, ov[1] * s)
        hp, wp = xp.shape[0] * s, xp.shape[1] * s
        # The summed weights are separable: the sum over tile rows times the sum over tile columns.
        wsum_y, wsum_x = np.zeros(hp, np.float32), np.zeros(wp, np.float32)
        for y in np.unique(origins[:, 0]):
            wsum_y[y * s : (y + th) * s] += wy
        for x0 in np.unique(origins[:, 1]):
            wsum_x[x0 * s : (x0 + tw) * s] += wx
        mul, add = TO_MODEL[self.spec.range]
        # Each tile's weights are divided by the summed weights where it lands, and by ``mul``, so
        # the sum is the blend in pixels plus ``add / mul``, which is taken off once at the end.
        ry = wy / wsum_y[origins[:, :1] * s + np.arange(th * s)]
        rx = wx / wsum_x[origins[:, 1:] * s + np.arange(tw * s)] * np.float32(1.0 / mul)
        fresh = first_cover(origins, (th, tw)) * s
        # Reused between images (it never leaves this method: callers get a new array or a copy).
        acc = self._buffer("acc", (c, hp, wp) if nchw else (hp, wp, c), np.float32)
        # Tiles are converted and blended a group of batches at a time, so each conversion is one
        # call over many tiles (on every thread) rather than a short call per batch.
        chunks = list(self._chunks(origins, mtiles, th * tw))
        most = max(1, MAX_GROUP_VALUES // ((c + 1) * th * tw))  # tiles per group
        while chunks:
            group = [chunks.pop(0)]
            count = len(group[0][2])
            while chunks and count + len(chunks[0][2]) <= most:
                count += len(chunks[0][2])
                group.append(chunks.pop(0))
            where_all = np.concatenate([where for _, _, where, _ in group])
            t_all = self._input_buffer(len(where_all), c, th, tw, group[0][3], np.float32)
            pack_tiles(xp, where_all, t_all, nchw=nchw, mul=mul, add=add, threads=self.threads)
            items, k = [], 0
            for start, n, where, mb in group:
                out = self._checked(self._run_buffer(t_all[k : k + len(where)], c, mb)[0], len(where), th, tw)
                part = slice(start, start + n)
                items.append((out[:n], where[:n] * s, fresh[part], ry[part], rx[part]))
                k += len(where)
            accumulate(items, acc, nchw=nchw, threads=self.threads)
        acc = acc[:, : h * s, : w * s] if nchw else acc[: h * s, : w * s]
        if as_uint8:
            return to_image(acc, planar=nchw, sub=add / mul, threads=self.threads)
        if add:  # float pixels, for a Y-only model's luma
            acc -= np.float32(add / mul)
        return acc.transpose(1, 2, 0) if nchw else acc

    def _slide_blocks(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        h, w, c = x.shape
        xp = block_padded(x)
        nby, nbx = -(-h // BLOCK), -(-w // BLOCK)
        out = np.empty((nby, nbx, BLOCK, BLOCK, c), np.float32)
        rows = max(1, 4096 // nbx)  # bands of block rows keep the 24x24 copies small
        for r in range(0, nby, rows):
            band = xp[r * BLOCK : (min(nby, r + rows) + 2) * BLOCK]
            win = np.lib.stride_tricks.sliding_window_view(band, (CONTEXT, CONTEXT), axis=(0, 1))[::BLOCK, ::BLOCK]
            ctx = np.ascontiguousarray(win.transpose(0, 1, 3, 4, 2)).reshape(-1, CONTEXT, CONTEXT, c)
            out[r : r + rows] = self.predict_batched(ctx).reshape(-1, nbx, BLOCK, BLOCK, c)
        return out.transpose(0, 2, 1, 3, 4).reshape(nby * BLOCK, nbx * BLOCK, c)[:h, :w]
