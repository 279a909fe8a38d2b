"""Order book and result of the spot auction with all-or-nothing block bids.

Sellers offer GPUs per (site, period) at a reserve price. Buyers submit divisible bids (GPUs in
one period at a given site, or at any site of a region) and block bids: N GPUs at one site for D
consecutive periods from a given start, all or nothing. A block is what a training run needs, so
it may not be split across sites or periods. Prices are per GPU-hour; a period lasts
`period_hours`.

The result exposes the registry's common arrays: buy orders are the divisible bids followed by
the block bids, sell orders are the (site, period) cells in row-major order, all in GPU-hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.markets.orders import OrderBook, as_float_array, as_int_array


def _as_grid(name: str, values: object) -> np.ndarray:
    grid = np.array(values, dtype=float, ndmin=2)
    if grid.ndim != 2 or not np.isfinite(grid).all():
        raise ValueError(f'"{name}" must be a finite [site, period] array.')
    grid.flags.writeable = False
    return grid


def _bid_sites(prefix: str, n: int, site, region, site_region) -> tuple[np.ndarray, np.ndarray]:
    """Resolve (site, region) of each bid: site -1 means any site of the region."""
    n_sites = site_region.size
    site = as_int_array(f"{prefix}_site", np.full(n, -1) if site is None else site, n)
    if ((site < -1) | (site >= n_sites)).any():
        raise ValueError(f'"{prefix}_site" must be -1 (any site) or in [0, {n_sites}).')
    if region is None:
        if (site < 0).any():
            raise ValueError(f'"{prefix}_region" is required when "{prefix}_site" has -1.')
        region = site_region[site]
    region = as_int_array(f"{prefix}_region", region, n)
    if (region[site >= 0] != site_region[site[site >= 0]]).any():
        raise ValueError(f'"{prefix}_region" must match the region of "{prefix}_site".')
    return site, region


def _no_bids() -> np.ndarray:
    return np.zeros(0)


@dataclass(frozen=True)
class BlockOrderBook:
    """One spot session: capacity and reserve per (site, period), divisible and block bids."""

    capacity: np.ndarray
    reserve: np.ndarray
    # None asks for the default, which __post_init__ fills in: the attributes are always arrays.
    site_region: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__
    site_owner: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__
    # sites that may serve blocks (None: all); capacity resold from contracts serves only
    # divisible bids
    site_blocks: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__
    period_hours: float = 1.0
    div_qty: np.ndarray = field(default_factory=_no_bids)
    div_limit: np.ndarray = field(default_factory=_no_bids)
    div_period: np.ndarray = field(default_factory=_no_bids)
    div_site: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__
    div_region: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__
    div_owner: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__
    block_gpus: np.ndarray = field(default_factory=_no_bids)
    block_periods: np.ndarray = field(default_factory=_no_bids)
    block_start: np.ndarray = field(default_factory=_no_bids)
    block_limit: np.ndarray = field(default_factory=_no_bids)
    block_site: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__
    block_region: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__
    block_owner: np.ndarray = None  # type: ignore[assignment]  # default filled in __post_init__

    def __post_init__(self) -> None:
        capacity, reserve = _as_grid("capacity", self.capacity), _as_grid("reserve", self.reserve)
        if reserve.shape != capacity.shape or (capacity < 0).any():
            raise ValueError('"capacity" must be >= 0 and shaped like "reserve".')
        if not self.period_hours > 0:
            raise ValueError(f'"period_hours" must be > 0, got {self.period_hours}.')
        n_sites = capacity.shape[0]
        set_ = object.__setattr__
        set_(self, "capacity", capacity)
        set_(self, "reserve", reserve)
        region = np.zeros(n_sites) if self.site_region is None else self.site_region
        set_(self, "site_region", as_int_array("site_region", region, n_sites))
        owner = np.arange(n_sites) if self.site_owner is None else self.site_owner
        set_(self, "site_owner", as_int_array("site_owner", owner, n_sites))
        blocks_ok = np.ones(n_sites, bool) if self.site_blocks is None else self.site_blocks
        blocks_ok = np.asarray(blocks_ok, dtype=bool).reshape(-1)
        if blocks_ok.size != n_sites:
            raise ValueError(f'"site_blocks" must have one flag per site ({n_sites}).')
        set_(self, "site_blocks", blocks_ok)
        self._init_divisible()
        self._init_blocks()

    def _init_divisible(self) -> None:
        qty = as_float_array("div_qty", self.div_qty)
        n = qty.size
        if (qty < 0).any() or not np.isfinite(qty).all():
            raise ValueError('"div_qty" must be finite and >= 0.')
        period = as_int_array("div_period", self.div_period, n)
        if ((period < 0) | (period >= self.n_periods)).any():
            raise ValueError(f'"div_period" must be in [0, {self.n_periods}).')
        site, region = _bid_sites("div", n, self.div_site, self.div_region, self.site_region)
        owner = np.arange(n) if self.div_owner is None else self.div_owner
        limit = as_float_array("div_limit", self.div_limit, n)
        if not np.isfinite(limit).all():
            raise ValueError('"div_limit" must be finite.')
        for name, value in [("div_qty", qty), ("div_limit", limit), ("div_period", period)]:
            object.__setattr__(self, name, value)
        object.__setattr__(self, "div_site", site)
        object.__setattr__(self, "div_region", region)
        object.__setattr__(self, "div_owner", as_int_array("div_owner", owner, n))

    def _init_blocks(self) -> None:
        gpus = as_float_array("block_gpus", self.block_gpus)
        n = gpus.size
        periods = as_int_array("block_periods", self.block_periods, n)
        start = as_int_array("block_start", self.block_start, n)
        if (gpus <= 0).any() or (periods <= 0).any() or not np.isfinite(gpus).all():
            raise ValueError('"block_gpus" and "block_periods" must be > 0.')
        if ((start < 0) | (start + periods > self.n_periods)).any():
            raise ValueError(f"block windows must lie within the {self.n_periods} periods.")
        limit = as_float_array("block_limit", self.block_limit, n)
        if not np.isfinite(limit).all():
            raise ValueError('"block_limit" must be finite.')
        site, region = _bid_sites("block", n, self.block_site, self.block_region, self.site_region)
        owner = np.arange(n) if self.block_owner is None else self.block_owner
        values = {"block_gpus": gpus, "block_periods": periods, "block_start": start}
        values |= {"block_limit": limit, "block_site": site, "block_region": region}
        values["block_owner"] = as_int_array("block_owner", owner, n)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def n_sites(self) -> int:
        return self.capacity.shape[0]

    @property
    def n_periods(self) -> int:
        return self.capacity.shape[1]

    @property
    def n_regions(self) -> int:
        regions = np.concatenate([self.site_region, self.div_region, self.block_region])
        return int(regions.max()) + 1 if regions.size else 1

    @property
    def buy_limit(self) -> np.ndarray:
        return np.concatenate([self.div_limit, self.block_limit])

    @property
    def buy_qty(self) -> np.ndarray:
        """GPU-hours asked for by each bid (divisible bids first, then blocks)."""
        block_gpu_periods = self.block_gpus * self.block_periods
        return np.concatenate([self.div_qty, block_gpu_periods]) * self.period_hours

    @property
    def sell_reserve(self) -> np.ndarray:
        return self.reserve.ravel()

    @property
    def sell_qty(self) -> np.ndarray:
        return self.capacity.ravel() * self.period_hours

    @classmethod
    def from_divisible(cls, book: OrderBook) -> BlockOrderBook:
        """Embed a divisible book: each product becomes a region of one period, each sell order a
        site, each buy order a divisible bid for any site of its region. The block auction then
        faces exactly the uniform-price problem, which is how the registry tests compare them."""
        return cls(
            capacity=book.sell_qty[:, None],
            reserve=book.sell_reserve[:, None],
            site_region=book.sell_product,
            site_owner=book.sell_owner,
            div_qty=book.buy_qty,
            div_limit=book.buy_limit,
            div_period=np.zeros(book.buy_qty.size, dtype=np.int64),
            div_region=book.buy_product,
            div_owner=book.buy_owner,
        )


def eligible_pairs(site: np.ndarray, region: np.ndarray, site_region: np.ndarray):
    """(bid, site) pairs a bid may be served at: its own site, or every site of its region."""
    ok = (site[:, None] == np.arange(site_region.size)) | (
        (site[:, None] < 0) & (region[:, None] == site_region[None, :])
    )
    return np.nonzero(ok)


def block_pairs(book: BlockOrderBook) -> tuple[np.ndarray, np.ndarray]:
    """(block, site) pairs a block may be served at: eligible, and a site that serves blocks."""
    blocks, sites = eligible_pairs(book.block_site, book.block_region, book.site_region)
    ok = book.site_blocks[sites]
    return blocks[ok], sites[ok]


def window_reserve(book: BlockOrderBook) -> np.ndarray:
    """Sum of reserve prices over each block's window at each site: [block, site]."""
    cum = np.concatenate([np.zeros((book.n_sites, 1)), np.cumsum(book.reserve, axis=1)], axis=1)
    end = book.block_start + book.block_periods
    return (cum[:, end] - cum[:, book.block_start]).T


def block_net_values(book: BlockOrderBook) -> np.ndarray:
    """Welfare of serving each block at each site, value minus reserve: [block, site].

    Sites the block may not use get -inf, so the array can be maximized over directly.
    """
    value = book.block_gpus[:, None] * book.period_hours
    net = value * (book.block_periods * book.block_limit)[:, None] - value * window_reserve(book)
    blocks, sites = block_pairs(book)
    out = np.full(net.shape, -np.inf)
    out[blocks, sites] = net[blocks, sites]
    return out


@dataclass(frozen=True)
class BlockAuctionResult:
    """Outcome of a block auction.

    `price[s, t]` is the price per GPU-hour at site s in period t, paid by every GPU used
    there; `block_site[b]` is the site that serves block b (-1 if rejected);
    `divisible_alloc[d, s]` the GPUs divisible bid d gets at site s in its period.
    """

    price: np.ndarray
    sold: np.ndarray
    divisible_alloc: np.ndarray
    block_site: np.ndarray
    buy_filled: np.ndarray
    buy_payment: np.ndarray
    sell_filled: np.ndarray
    sell_revenue: np.ndarray
    welfare: float
    mip_gap: float = 0.0  # relative gap of the allocation to HiGHS's bound (0 when proven optimal)
    optimal: bool = True  # False when a time limit stopped the solver
    paradoxically_rejected: int = 0  # rejected blocks that would gain at the prices

    @property
    def block_accepted(self) -> np.ndarray:
        return self.block_site >= 0


def block_usage(book: BlockOrderBook, block_site: np.ndarray) -> np.ndarray:
    """GPUs taken by accepted blocks at each (site, period)."""
    used = np.zeros(book.capacity.shape)
    accepted = np.flatnonzero(block_site >= 0)
    periods = book.block_periods[accepted]
    owner = np.repeat(accepted, periods)
    offset = np.arange(periods.sum()) - np.repeat(np.cumsum(periods) - periods, periods)
    np.add.at(used, (block_site[owner], book.block_start[owner] + offset), book.block_gpus[owner])
    return used


def cells_sold(book: BlockOrderBook, block_site: np.ndarray, alloc: np.ndarray) -> np.ndarray:
    """GPUs sold at each (site, period): accepted blocks plus divisible allocations."""
    sold = block_usage(book, block_site)
    bids, sites = np.nonzero(alloc > 0)
    np.add.at(sold, (sites, book.div_period[bids]), alloc[bids, sites])
    return sold


def allocation_welfare(book: BlockOrderBook, block_site: np.ndarray, alloc: np.ndarray) -> float:
    """Value of the served bids minus the reserve of the capacity they use."""
    value = book.div_limit @ alloc.sum(axis=1) + book.block_limit @ (
        np.where(block_site >= 0, book.block_gpus * book.block_periods, 0.0)
    )
    cost = np.sum(cells_sold(book, block_site, alloc) * book.reserve)
    return float((value - cost) * book.period_hours)


def settle_blocks(
    book: BlockOrderBook, block_site: np.ndarray, alloc: np.ndarray, price: np.ndarray
) -> BlockAuctionResult:
    """Quantities and money of a fixed allocation when every GPU-hour pays its cell's price."""
    h = book.period_hours
    accepted = block_site >= 0
    sold = cells_sold(book, block_site, alloc)
    div_payment = (alloc * price[:, book.div_period].T).sum(axis=1) * h
    block_payment = _window_sums(book, price, block_site) * book.block_gpus * h
    block_hours = np.where(accepted, book.block_gpus * book.block_periods * h, 0.0)
    return BlockAuctionResult(
        price=price,
        sold=sold,
        divisible_alloc=alloc,
        block_site=block_site,
        buy_filled=np.concatenate([alloc.sum(axis=1) * h, block_hours]),
        buy_payment=np.concatenate([div_payment, block_payment]),
        sell_filled=(sold * h).ravel(),
        sell_revenue=(sold * price * h).ravel(),
        welfare=allocation_welfare(book, block_site, alloc),
    )


def _window_sums(book: BlockOrderBook, grid: np.ndarray, block_site: np.ndarray) -> np.ndarray:
    """Sum of grid[site, t] over each block's window at its assigned site (0 if rejected)."""
    cum = np.concatenate([np.zeros((book.n_sites, 1)), np.cumsum(grid, axis=1)], axis=1)
    site = np.maximum(block_site, 0)
    end = book.block_start + book.block_periods
    return np.where(block_site >= 0, cum[site, end] - cum[site, book.block_start], 0.0)
