import { Table, type TableProps } from 'antd';
import type { HTMLAttributes, KeyboardEvent } from 'react';

type RowAttrs = Record<`data-${string}`, string | number>;

interface DataTableProps<T> extends Omit<TableProps<T>, 'onRow' | 'size'> {
  /** `data-testid` of every row. */
  rowTestId: string;
  /** More `data-*` attributes per row, e.g. the entity's id for tests and scripts. */
  rowAttrs?: (row: T) => RowAttrs;
  /** Makes rows open something: by click, or Enter or Space on the focused row. */
  onOpen?: (row: T) => void;
}

/** The dense table every window uses: small, scrolling sideways rather than wrapping, rows tagged for tests. */
export function DataTable<T extends object>({ rowTestId, rowAttrs, onOpen, ...props }: DataTableProps<T>) {
  return (
    <Table<T>
      size="small"
      pagination={false}
      scroll={{ x: 'max-content' }}
      {...props}
      onRow={(row) =>
        ({
          'data-testid': rowTestId,
          ...rowAttrs?.(row),
          ...(onOpen && {
            tabIndex: 0,
            style: { cursor: 'pointer' },
            onClick: () => onOpen(row),
            onKeyDown: (e: KeyboardEvent) => {
              // As a button does: Enter or Space. Keys typed into a control inside the row are its own.
              if (e.target !== e.currentTarget || (e.key !== 'Enter' && e.key !== ' ')) return;
              e.preventDefault();
              onOpen(row);
            },
          }),
        }) as HTMLAttributes<HTMLElement>
      }
    />
  );
}
